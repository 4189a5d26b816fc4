WITH agg_fact_sales AS (
  SELECT
    dim_store.channel AS channel,
    COUNT(DISTINCT fact_sales.order_id) AS order_count
  FROM fact_sales
  LEFT JOIN dim_store
    ON dim_store.store_id = fact_sales.store_id
  WHERE
    fact_sales.order_date BETWEEN CAST('2025-01-01' AS DATE) AND CAST('2025-03-31' AS DATE)
  GROUP BY
    dim_store.channel
), agg_fact_traffic_daily AS (
  SELECT
    dim_store.channel AS channel,
    SUM(fact_traffic_daily.visitor_count) AS visitor_count
  FROM (
    SELECT
      fact_traffic_daily.store_id AS store_id,
      SUM(fact_traffic_daily.visitors) AS visitor_count
    FROM fact_traffic_daily
    WHERE
      fact_traffic_daily.`date` BETWEEN CAST('2025-01-01' AS DATE) AND CAST('2025-03-31' AS DATE)
    GROUP BY
      fact_traffic_daily.store_id
  ) AS fact_traffic_daily
  LEFT JOIN dim_store
    ON dim_store.store_id = fact_traffic_daily.store_id
  GROUP BY
    dim_store.channel
), grid AS (
  SELECT
    channel
  FROM agg_fact_sales
  UNION
  SELECT
    channel
  FROM agg_fact_traffic_daily
)
SELECT
  grid.channel,
  CAST((
    COALESCE(agg_fact_sales.order_count, 0)
  ) AS DOUBLE) / NULLIF((
    COALESCE(agg_fact_traffic_daily.visitor_count, 0)
  ), 0) AS conversion_rate
FROM grid
LEFT JOIN agg_fact_sales
  ON grid.channel <=> agg_fact_sales.channel
LEFT JOIN agg_fact_traffic_daily
  ON grid.channel <=> agg_fact_traffic_daily.channel
ORDER BY
  CASE WHEN grid.channel IS NULL THEN 1 ELSE 0 END, grid.channel
