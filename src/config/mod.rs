//! Configuration: prometheus.yml parsed strictly, with Prometheus defaults and validation.
