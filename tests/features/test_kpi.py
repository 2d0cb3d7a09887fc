from pytest_bdd import scenarios

scenarios("kpi.feature")
