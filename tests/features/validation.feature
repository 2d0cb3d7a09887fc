Feature: Input validation
  Bad input gets a clear 4xx naming the field, and nothing is written.

  Background:
    Given today is 2026-03-10
    And procurement has registered supplier "Beta Metals" certified until 2026-06-30

  Scenario Outline: Bad supplier input
    When procurement posts the supplier <body>
    Then the answer is 422 naming "<field>"
    And 1 event is waiting in the outbox

    Examples:
      | body                                                      | field                |
      | {"name": "", "certification_expiry": "2026-06-30"}        | name                 |
      | {"name": "   ", "certification_expiry": "2026-06-30"}     | name                 |
      | {"name": "X", "certification_expiry": "30/06/2026"}       | certification_expiry |
      | {"name": "X", "certification_expiry": "2026-02-30"}       | certification_expiry |
      | {"certification_expiry": "2026-06-30"}                    | name                 |
      | {"name": "X"}                                             | certification_expiry |

  Scenario Outline: Bad non-conformity input
    When quality posts the non-conformity <body>
    Then the answer is 422 naming "<field>"
    And the KPI "nc_open" is 0

    Examples:
      | body                                                               | field       |
      | {"supplier_id": 1, "severity": "critical", "description": "x"}     | severity    |
      | {"supplier_id": 1, "severity": "high", "description": ""}          | description |
      | {"supplier_id": 1, "severity": "high", "description": "   "}       | description |
      | {"supplier_id": "one", "severity": "high", "description": "x"}     | supplier_id |
      | {"severity": "high", "description": "x"}                           | supplier_id |

  Scenario Outline: Bad query parameters
    When auditor reads "<path>"
    Then the answer is 422 naming "<field>"

    Examples:
      | path                     | field    |
      | /ncs?limit=-1            | limit    |
      | /ncs?offset=-5           | offset   |
      | /ncs?limit=100000        | limit    |
      | /ncs?severity=critical   | severity |
      | /outbox?status=LOST      | status   |
      | /suppliers/abc           | supplier_id |

  Scenario: A malformed JSON body
    When procurement posts the raw body "{not json"
    Then the answer is 422

  Scenario: An unknown supplier
    When auditor reads "/suppliers/999"
    Then the answer is 404
