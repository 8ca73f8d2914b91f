"""Training runs with the Bag of Tricks: config (`config`), losses (`objective`, `tricks`), the
inner loop (`loop`), the run itself (`run`), its folder and checkpoint, and ablations."""
