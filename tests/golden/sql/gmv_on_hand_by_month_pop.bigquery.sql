WITH agg_fact_sales AS (
  SELECT
    CAST(DATE_TRUNC(fact_sales.order_date, MONTH) AS DATE) AS month,
    SUM(fact_sales.revenue) AS revenue
  FROM fact_sales
  WHERE
    fact_sales.order_date BETWEEN CAST('2024-12-01' AS DATE) AND CAST('2025-03-31' AS DATE)
  GROUP BY
    DATE_TRUNC(fact_sales.order_date, MONTH)
), agg_fact_inventory_daily AS (
  SELECT
    CAST(DATE_TRUNC(fact_inventory_daily.snapshot_date, MONTH) AS DATE) AS month,
    SUM(fact_inventory_daily.on_hand_qty) AS on_hand_qty_end
  FROM fact_inventory_daily
  WHERE
    fact_inventory_daily.snapshot_date IN (
      CAST('2024-12-31' AS DATE),
      CAST('2025-01-31' AS DATE),
      CAST('2025-02-28' AS DATE),
      CAST('2025-03-31' AS DATE)
    )
  GROUP BY
    DATE_TRUNC(fact_inventory_daily.snapshot_date, MONTH)
), grid AS (
  SELECT
    month
  FROM agg_fact_sales
  UNION DISTINCT
  SELECT
    month
  FROM agg_fact_inventory_daily
), series AS (
  SELECT
    grid.month,
    COALESCE(agg_fact_sales.revenue, 0) AS gmv,
    COALESCE(agg_fact_inventory_daily.on_hand_qty_end, 0) AS on_hand_units
  FROM grid
  LEFT JOIN agg_fact_sales
    ON grid.month IS NOT DISTINCT FROM agg_fact_sales.month
  LEFT JOIN agg_fact_inventory_daily
    ON grid.month IS NOT DISTINCT FROM agg_fact_inventory_daily.month
), this_period AS (
  SELECT
    *
  FROM series
  WHERE
    series.month >= CAST('2025-01-01' AS DATE)
), previous_period AS (
  SELECT
    CAST(DATE_ADD(series.month, INTERVAL 1 MONTH) AS DATE) AS month,
    series.gmv,
    series.on_hand_units
  FROM series
  WHERE
    series.month <= CAST('2025-02-01' AS DATE)
)
SELECT
  this_period.month,
  this_period.gmv,
  previous_period.gmv AS gmv_previous,
  CAST(this_period.gmv AS FLOAT64) / NULLIF(previous_period.gmv, 0) - 1 AS gmv_growth,
  this_period.on_hand_units,
  previous_period.on_hand_units AS on_hand_units_previous,
  CAST(this_period.on_hand_units AS FLOAT64) / NULLIF(previous_period.on_hand_units, 0) - 1 AS on_hand_units_growth
FROM this_period
LEFT JOIN previous_period
  ON this_period.month IS NOT DISTINCT FROM previous_period.month
ORDER BY
  month NULLS LAST
