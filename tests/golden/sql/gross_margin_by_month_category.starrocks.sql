WITH agg_fact_sales AS (
  SELECT
    fact_sales.time_bucket AS month,
    dim_sku.category AS category,
    SUM(fact_sales.revenue) AS revenue,
    SUM(fact_sales.cost_of_goods) AS cost_of_goods
  FROM (
    SELECT
      CAST(DATE_TRUNC('MONTH', fact_sales.order_date) AS DATE) AS time_bucket,
      fact_sales.sku_id AS sku_id,
      SUM(fact_sales.revenue) AS revenue,
      SUM(fact_sales.cogs) AS cost_of_goods
    FROM fact_sales
    WHERE
      fact_sales.order_date BETWEEN CAST('2025-01-01' AS DATE) AND CAST('2025-03-31' AS DATE)
    GROUP BY
      DATE_TRUNC('MONTH', fact_sales.order_date),
      fact_sales.sku_id
  ) AS fact_sales
  LEFT JOIN dim_sku
    ON dim_sku.sku_id = fact_sales.sku_id
  GROUP BY
    fact_sales.time_bucket,
    dim_sku.category
)
SELECT
  agg_fact_sales.month,
  agg_fact_sales.category,
  CAST((
    (
      agg_fact_sales.revenue
    ) - (
      agg_fact_sales.cost_of_goods
    )
  ) AS DOUBLE) / NULLIF((
    agg_fact_sales.revenue
  ), 0) AS gross_margin,
  agg_fact_sales.revenue AS gmv
FROM agg_fact_sales
ORDER BY
  CASE WHEN agg_fact_sales.month IS NULL THEN 1 ELSE 0 END, agg_fact_sales.month,
  CASE WHEN agg_fact_sales.category IS NULL THEN 1 ELSE 0 END, agg_fact_sales.category
