WITH agg_fact_sales AS (
  SELECT
    CAST(DATE_TRUNC(fact_sales.order_date, WEEK(MONDAY)) AS DATE) AS week,
    SUM(fact_sales.revenue) AS revenue,
    COUNT(DISTINCT fact_sales.order_id) AS order_count
  FROM fact_sales
  WHERE
    fact_sales.order_date BETWEEN CAST('2025-01-01' AS DATE) AND CAST('2025-03-31' AS DATE)
    AND fact_sales.store_id IN ('tmall_flagship')
  GROUP BY
    DATE_TRUNC(fact_sales.order_date, WEEK(MONDAY))
), agg_fact_traffic_daily AS (
  SELECT
    CAST(DATE_TRUNC(fact_traffic_daily.date, WEEK(MONDAY)) AS DATE) AS week,
    SUM(fact_traffic_daily.visitors) AS visitor_count
  FROM fact_traffic_daily
  WHERE
    fact_traffic_daily.date BETWEEN CAST('2025-01-01' AS DATE) AND CAST('2025-03-31' AS DATE)
    AND fact_traffic_daily.store_id IN ('tmall_flagship')
  GROUP BY
    DATE_TRUNC(fact_traffic_daily.date, WEEK(MONDAY))
), grid AS (
  SELECT
    week
  FROM agg_fact_sales
  UNION DISTINCT
  SELECT
    week
  FROM agg_fact_traffic_daily
)
SELECT
  grid.week,
  COALESCE(agg_fact_sales.revenue, 0) AS gmv,
  COALESCE(agg_fact_sales.order_count, 0) AS orders,
  CAST((
    COALESCE(agg_fact_sales.order_count, 0)
  ) AS FLOAT64) / NULLIF((
    COALESCE(agg_fact_traffic_daily.visitor_count, 0)
  ), 0) AS conversion_rate
FROM grid
LEFT JOIN agg_fact_sales
  ON grid.week IS NOT DISTINCT FROM agg_fact_sales.week
LEFT JOIN agg_fact_traffic_daily
  ON grid.week IS NOT DISTINCT FROM agg_fact_traffic_daily.week
ORDER BY
  week NULLS LAST
