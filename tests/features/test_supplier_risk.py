from pytest_bdd import scenarios

scenarios("supplier_risk.feature")
