WITH agg_fact_sales AS (
  SELECT
    dim_sku.category AS category,
    SUM(fact_sales.revenue) AS revenue
  FROM (
    SELECT
      fact_sales.sku_id AS sku_id,
      SUM(fact_sales.revenue) AS revenue
    FROM fact_sales
    WHERE
      fact_sales.order_date BETWEEN CAST('2025-01-01' AS DATE) AND CAST('2025-03-31' AS DATE)
    GROUP BY
      fact_sales.sku_id
  ) AS fact_sales
  LEFT JOIN dim_sku
    ON dim_sku.sku_id = fact_sales.sku_id
  GROUP BY
    dim_sku.category
), this_period AS (
  SELECT
    agg_fact_sales.category,
    agg_fact_sales.revenue AS gmv
  FROM agg_fact_sales
)
SELECT
  this_period.category,
  this_period.gmv,
  CAST(this_period.gmv AS DOUBLE) / NULLIF(SUM(this_period.gmv) OVER (), 0) AS gmv_share
FROM this_period
ORDER BY
  gmv DESC,
  CASE WHEN this_period.category IS NULL THEN 1 ELSE 0 END, this_period.category
LIMIT 5
