"""Final project (notebook 11): a ZTF transient classification system — alert pipeline, production classifier,
random-forest baseline and alerting."""
