"""The demo retail warehouse: a simulated beauty retailer that follows DATA_CONTRACT.md."""
