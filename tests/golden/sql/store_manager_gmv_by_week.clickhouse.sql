WITH agg_fact_sales AS (
  SELECT
    CAST(dateTrunc('WEEK', fact_sales.order_date) AS Nullable(DATE)) AS week,
    SUM(fact_sales.revenue) AS revenue,
    COUNT(DISTINCT fact_sales.order_id) AS order_count
  FROM fact_sales
  WHERE
    fact_sales.order_date BETWEEN CAST('2025-01-01' AS Nullable(DATE)) AND CAST('2025-03-31' AS Nullable(DATE))
    AND fact_sales.store_id IN ('tmall_flagship')
  GROUP BY
    dateTrunc('WEEK', fact_sales.order_date)
), agg_fact_traffic_daily AS (
  SELECT
    CAST(dateTrunc('WEEK', fact_traffic_daily.date) AS Nullable(DATE)) AS week,
    SUM(fact_traffic_daily.visitors) AS visitor_count
  FROM fact_traffic_daily
  WHERE
    fact_traffic_daily.date BETWEEN CAST('2025-01-01' AS Nullable(DATE)) AND CAST('2025-03-31' AS Nullable(DATE))
    AND fact_traffic_daily.store_id IN ('tmall_flagship')
  GROUP BY
    dateTrunc('WEEK', fact_traffic_daily.date)
), grid AS (
  SELECT
    week AS week
  FROM agg_fact_sales
  UNION DISTINCT
  SELECT
    week AS week
  FROM agg_fact_traffic_daily
)
SELECT
  grid.week AS week,
  COALESCE(agg_fact_sales.revenue, 0) AS gmv,
  COALESCE(agg_fact_sales.order_count, 0) AS orders,
  CAST((
    COALESCE(agg_fact_sales.order_count, 0)
  ) AS Nullable(Float64)) / nullIf((
    COALESCE(agg_fact_traffic_daily.visitor_count, 0)
  ), 0) AS conversion_rate
FROM grid
LEFT JOIN agg_fact_sales
  ON grid.week IS NOT DISTINCT FROM agg_fact_sales.week
LEFT JOIN agg_fact_traffic_daily
  ON grid.week IS NOT DISTINCT FROM agg_fact_traffic_daily.week
ORDER BY
  week
