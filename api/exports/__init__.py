"""Answers as files: CSV and XLSX of the full result, and the purchase-order workbook of a replenishment answer."""
