from pytest_bdd import scenarios

scenarios("nc_lifecycle.feature")
