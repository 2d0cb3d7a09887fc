"""Pure domain model of SupplyTrace: standard library only."""
