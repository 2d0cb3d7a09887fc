from pytest_bdd import scenarios

scenarios("validation.feature")
