"""RabbitMQ adapters (pika): the topology, the message format, a confirming channel and the relay's publisher."""
