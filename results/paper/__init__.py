"""The paper's reference numbers (CSV files beside this one), installed as package data: see README.md."""
