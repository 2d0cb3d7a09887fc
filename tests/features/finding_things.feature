Feature: Finding things
  Every list answers a case-insensitive search, a sort and a creation-date range, and speaks CSV;
  a sort field or a query parameter it does not know is refused by name, never ignored.

  Background:
    Given today is 2026-03-10
    And procurement has registered supplier "Beta Metals" certified until 2027-06-30
    And a minute has passed
    And procurement has registered supplier "alpha steel" certified until 2027-06-30
    And a minute has passed
    And procurement has registered supplier "Gamma Metalworks" certified until 2027-06-30

  Scenario: Search, sort and date range on the lists; what a list does not know is a 422 naming it
    Given quality has raised a high non-conformity against "alpha steel"
    And logistics has placed an order for customer "ACME-01" named "Acme Corporation"
    And a minute has passed
    And logistics has placed an order for customer "BOLT-7" named "acme west"
    And logistics has placed an order for customer "ZED-9" named "Zed Traders"
    When quality lists "/suppliers?q=METAL&sort=-name"
    Then the listed name are "Gamma Metalworks, Beta Metals"
    When quality lists "/suppliers?sort=-created_at"
    Then the listed name are "Gamma Metalworks, alpha steel, Beta Metals"
    When quality lists "/suppliers?created_from=2026-03-10T09:01:00Z&created_to=2026-03-10"
    Then the listed name are "alpha steel, Gamma Metalworks"
    When quality lists "/ncs?q=HIGH%20FIND&created_from=2026-03-10"
    Then the listed description are "high finding"
    When quality lists "/orders?q=acme&sort=customer_name"
    Then the listed customer_name are "Acme Corporation, acme west"
    When quality lists "/orders?customer_id=BOLT-7"
    Then the listed customer_name are "acme west"
    When quality lists "/orders?q=%25"
    Then the list is empty
    When quality lists "/suppliers?sort=-rating"
    Then the answer is 422 naming "sort"
    When quality lists "/ncs?stauts=OPEN"
    Then the answer is 422 naming "stauts"
    When quality lists "/orders?created_from=2026-03-11&created_to=2026-03-10"
    Then the answer is 422 naming "created_from"

  Scenario: Lists and the audit log answer CSV with a header row, the same filters and sort
    Given logistics has placed an order for customer "EVIL-1" named "=HYPERLINK(1)"
    And logistics has created an inventory for "Acme Foods" expiring 2027-01-31
    And logistics has created an inventory for "Bolt Supply" expiring 2027-02-28
    And the worker has run
    When auditor downloads "/suppliers?q=metal&sort=-name" as CSV
    Then the CSV column "name" is "Gamma Metalworks, Beta Metals"
    And the CSV header starts with "id,name,certification_expiry,at_risk,created_at,updated_at"
    When auditor downloads "/orders" as CSV
    Then the CSV column "customer_name" is "'=HYPERLINK(1)"
    When auditor downloads "/inventories?q=ACME" as CSV
    Then the CSV column "customer" is "Acme Foods"
    When auditor downloads "/audit-log?entity_type=supplier&sort=occurred_at&limit=2" as CSV
    Then the CSV column "entity_id" is "1, 2"
