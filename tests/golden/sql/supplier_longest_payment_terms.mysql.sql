SELECT
  dim_supplier.supplier_id AS supplier,
  dim_supplier.supplier_name AS supplier_name,
  dim_supplier.payment_terms_days AS payment_terms_days
FROM dim_supplier
ORDER BY
  payment_terms_days DESC,
  CASE WHEN dim_supplier.supplier_id IS NULL THEN 1 ELSE 0 END, dim_supplier.supplier_id
LIMIT 10
