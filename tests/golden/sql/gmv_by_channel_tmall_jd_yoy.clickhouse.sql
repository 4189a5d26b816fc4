WITH agg_fact_sales AS (
  SELECT
    dim_store.channel AS channel,
    SUM(fact_sales.revenue) AS revenue
  FROM (
    SELECT
      fact_sales.store_id AS store_id,
      SUM(fact_sales.revenue) AS revenue
    FROM fact_sales
    WHERE
      fact_sales.order_date BETWEEN CAST('2025-01-01' AS Nullable(DATE)) AND CAST('2025-03-31' AS Nullable(DATE))
    GROUP BY
      fact_sales.store_id
  ) AS fact_sales
  LEFT JOIN dim_store
    ON dim_store.store_id = fact_sales.store_id
  WHERE
    dim_store.channel IN ('tmall', 'jd')
  GROUP BY
    dim_store.channel
), this_period AS (
  SELECT
    agg_fact_sales.channel AS channel,
    agg_fact_sales.revenue AS gmv
  FROM agg_fact_sales
), prev_agg_fact_sales AS (
  SELECT
    dim_store.channel AS channel,
    SUM(fact_sales.revenue) AS revenue
  FROM (
    SELECT
      fact_sales.store_id AS store_id,
      SUM(fact_sales.revenue) AS revenue
    FROM fact_sales
    WHERE
      fact_sales.order_date BETWEEN CAST('2024-01-01' AS Nullable(DATE)) AND CAST('2024-03-31' AS Nullable(DATE))
    GROUP BY
      fact_sales.store_id
  ) AS fact_sales
  LEFT JOIN dim_store
    ON dim_store.store_id = fact_sales.store_id
  WHERE
    dim_store.channel IN ('tmall', 'jd')
  GROUP BY
    dim_store.channel
), previous_period AS (
  SELECT
    prev_agg_fact_sales.channel AS channel,
    prev_agg_fact_sales.revenue AS gmv
  FROM prev_agg_fact_sales
)
SELECT
  this_period.channel AS channel,
  this_period.gmv AS gmv,
  previous_period.gmv AS gmv_previous,
  CAST(this_period.gmv AS Nullable(Float64)) / nullIf(previous_period.gmv, 0) - 1 AS gmv_growth
FROM this_period
LEFT JOIN previous_period
  ON this_period.channel IS NOT DISTINCT FROM previous_period.channel
ORDER BY
  channel
