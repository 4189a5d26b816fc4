SELECT
  dim_customer.customer_id AS customer,
  dim_customer.customer_name AS customer_name,
  dim_customer.payment_terms_days AS payment_terms_days,
  dim_customer.customer_type AS customer_type
FROM dim_customer
WHERE
  dim_customer.customer_type IN ('distributor')
  AND dim_customer.payment_terms_days >= 45.0
ORDER BY
  CASE WHEN dim_customer.customer_id IS NULL THEN 1 ELSE 0 END, dim_customer.customer_id
