"""What FarCare adds to Django's database layer: knowing whether work under way has committed
anything (`commits`), so that work PostgreSQL aborted can be run again safely."""
