Feature: Role-based access
  Every request carries a token from /auth/login; each role may do what its job needs.

  Background:
    Given today is 2026-03-10
    And procurement has registered supplier "Beta Metals" certified until 2026-06-30

  Scenario Outline: Who may do what
    When <role> tries to <action>
    Then the answer is <status>

    Examples:
      | role        | action                  | status |
      | procurement | register a supplier     | 201    |
      | admin       | register a supplier     | 201    |
      | quality     | register a supplier     | 403    |
      | logistics   | register a supplier     | 403    |
      | auditor     | register a supplier     | 403    |
      | quality     | raise a non-conformity  | 201    |
      | admin       | raise a non-conformity  | 201    |
      | procurement | raise a non-conformity  | 403    |
      | auditor     | raise a non-conformity  | 403    |
      | procurement | update a certification  | 200    |
      | quality     | update a certification  | 403    |
      | logistics   | list suppliers          | 200    |
      | auditor     | list non-conformities   | 200    |
      | quality     | read the audit log      | 403    |
      | auditor     | read the audit log      | 200    |
      | admin       | read the audit log      | 200    |
      | auditor     | verify the audit log    | 200    |
      | admin       | verify the audit log    | 200    |
      | logistics   | verify the audit log    | 403    |
      | procurement | read the outbox         | 403    |
      | auditor     | read the outbox         | 200    |

  Scenario: A refused write changes nothing
    When quality tries to register a supplier
    Then the answer is 403
    And 1 event is waiting in the outbox

  Scenario Outline: Requests without a valid token are refused
    When someone lists suppliers with <token>
    Then the answer is 401

    Examples:
      | token                          |
      | no token                       |
      | a malformed token              |
      | a token with a tampered role   |
      | a token signed with another key |
      | an expired token               |
      | a token with an empty subject  |
      | a token for an unknown user    |
      | a token living for ten years   |
      | a token with the wrong role for its user |

  Scenario: Logging in with a wrong password is refused
    When "quality" logs in with password "wrong"
    Then the answer is 401

  Scenario: Logging in with JSON works as well as with the form
    When "auditor" logs in with JSON
    Then the answer is 200

  Scenario: A token stops working once its user logs out
    Given "quality" has logged in
    When "quality" logs out
    Then the answer is 204
    And the token of "quality" is refused
    And a new login of "quality" works

  Scenario: Repeated wrong passwords lock the username out for a while
    When "quality" logs in with password "wrong" 5 times
    And "quality" logs in with password "demo-test-password"
    Then the answer is 429 with a Retry-After
    And "auditor" can still log in
