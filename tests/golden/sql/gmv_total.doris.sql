WITH agg_fact_sales AS (
  SELECT
    SUM(fact_sales.revenue) AS revenue
  FROM fact_sales
  WHERE
    fact_sales.order_date BETWEEN CAST('2025-01-01' AS DATE) AND CAST('2025-03-31' AS DATE)
)
SELECT
  agg_fact_sales.revenue AS gmv
FROM agg_fact_sales
