"""Partner push: signed webhooks from the outbox (store/push.py), delivered by workers, with status changes on time."""
