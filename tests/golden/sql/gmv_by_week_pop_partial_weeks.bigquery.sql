WITH agg_fact_sales AS (
  SELECT
    fact_sales.time_bucket AS week,
    dim_store.channel AS channel,
    SUM(fact_sales.revenue) AS revenue
  FROM (
    SELECT
      CAST(DATE_TRUNC(fact_sales.order_date, WEEK(MONDAY)) AS DATE) AS time_bucket,
      fact_sales.store_id AS store_id,
      SUM(fact_sales.revenue) AS revenue
    FROM fact_sales
    WHERE
      fact_sales.order_date BETWEEN CAST('2025-01-01' AS DATE) AND CAST('2025-03-31' AS DATE)
    GROUP BY
      DATE_TRUNC(fact_sales.order_date, WEEK(MONDAY)),
      fact_sales.store_id
  ) AS fact_sales
  LEFT JOIN dim_store
    ON dim_store.store_id = fact_sales.store_id
  GROUP BY
    fact_sales.time_bucket,
    dim_store.channel
), this_period AS (
  SELECT
    agg_fact_sales.week,
    agg_fact_sales.channel,
    agg_fact_sales.revenue AS gmv
  FROM agg_fact_sales
), prev_agg_fact_sales AS (
  SELECT
    fact_sales.time_bucket AS week,
    dim_store.channel AS channel,
    SUM(fact_sales.revenue) AS revenue
  FROM (
    SELECT
      CAST(DATE_ADD(DATE_TRUNC(fact_sales.order_date, WEEK(MONDAY)), INTERVAL 7 DAY) AS DATE) AS time_bucket,
      fact_sales.store_id AS store_id,
      SUM(fact_sales.revenue) AS revenue
    FROM fact_sales
    WHERE
      fact_sales.order_date BETWEEN CAST('2024-12-25' AS DATE) AND CAST('2025-03-24' AS DATE)
    GROUP BY
      DATE_TRUNC(fact_sales.order_date, WEEK(MONDAY)),
      fact_sales.store_id
  ) AS fact_sales
  LEFT JOIN dim_store
    ON dim_store.store_id = fact_sales.store_id
  GROUP BY
    fact_sales.time_bucket,
    dim_store.channel
), previous_period AS (
  SELECT
    prev_agg_fact_sales.week,
    prev_agg_fact_sales.channel,
    prev_agg_fact_sales.revenue AS gmv
  FROM prev_agg_fact_sales
)
SELECT
  this_period.week,
  this_period.channel,
  this_period.gmv,
  previous_period.gmv AS gmv_previous,
  CAST(this_period.gmv AS FLOAT64) / NULLIF(previous_period.gmv, 0) - 1 AS gmv_growth
FROM this_period
LEFT JOIN previous_period
  ON this_period.week IS NOT DISTINCT FROM previous_period.week
  AND this_period.channel IS NOT DISTINCT FROM previous_period.channel
ORDER BY
  week NULLS LAST,
  channel NULLS LAST
