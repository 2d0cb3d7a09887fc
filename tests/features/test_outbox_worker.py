from pytest_bdd import scenarios

scenarios("outbox_worker.feature")
