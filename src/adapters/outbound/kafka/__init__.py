"""Kafka adapters (confluent-kafka): the relay's publisher and the shared message format."""
