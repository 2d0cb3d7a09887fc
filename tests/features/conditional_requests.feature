Feature: Conditional requests
  A client that cannot tell whether its POST arrived sends it again with the same Idempotency-Key:
  it gets the first answer and nothing is written twice. A client that changes a resource names
  the version it read (If-Match with the ETag of its GET): a change based on a stale read is refused.

  Background:
    Given today is 2026-03-10

  Scenario: A POST sent again with its Idempotency-Key is answered from the first one and writes nothing
    When with the key "beta-1", procurement registers supplier "Beta Metals" certified until 2026-06-30
    And procurement sends the same request again
    Then the answer is the first one, replayed
    And 1 supplier is listed
    When with the key "beta-1", procurement registers supplier "Gamma Steel" certified until 2026-06-30
    Then the answer is 422 naming "Idempotency-Key"
    When with the key "beta-1", admin registers supplier "Beta Metals" certified until 2026-06-30
    Then the answer is 201, not replayed
    And 2 suppliers are listed
    When with the key "nc-1", quality raises a high non-conformity against supplier 999
    Then the answer is 404
    When with the key "nc-1", quality raises a high non-conformity against "Beta Metals"
    Then the answer is 201, not replayed
    When quality sends the same request again
    Then the answer is the first one, replayed
    When the worker runs
    Then the audit log holds one record per event: SUPPLIER_CREATED, SUPPLIER_CREATED, NC_CREATED

  Scenario: A change sent with a stale ETag is refused, one with the current ETag applies
    Given procurement has registered supplier "Beta Metals" certified until 2026-06-30
    When procurement reads supplier "Beta Metals"
    Then the ETag is "1"
    When procurement sets the certification to 2027-01-31 if "Beta Metals" still has the ETag read
    Then the answer is 200 with the ETag "2"
    When procurement sets the certification to 2028-01-31 if "Beta Metals" still has the ETag read
    Then the answer is 412
    And the certification of "Beta Metals" is 2027-01-31 with the ETag "2"
    When procurement sends If-Match "not-an-etag" to set the certification of "Beta Metals"
    Then the answer is 400
    When procurement reads supplier "Beta Metals"
    And procurement sets the certification to 2028-01-31 if "Beta Metals" still has the ETag read
    Then the answer is 200 with the ETag "3"
    Given quality has raised a high non-conformity against "Beta Metals"
    When quality closes the last non-conformity with If-Match "2"
    Then the answer is 412
    When quality closes the last non-conformity with If-Match "1"
    Then the answer is 200 with the ETag "2"
