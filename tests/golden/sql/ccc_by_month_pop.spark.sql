WITH spine AS (
  SELECT
    CAST(gs.d AS DATE) AS day
  FROM (
    SELECT
      EXPLODE(
        SEQUENCE(CAST('2024-12-01' AS DATE), CAST('2025-03-31' AS DATE), INTERVAL '1' DAY)
      ) AS d
  ) AS gs
), calendar AS (
  SELECT
    CAST(TRUNC(spine.day, 'MONTH') AS DATE) AS month,
    COUNT(*) AS days,
    MAX(spine.day) AS as_of
  FROM spine
  GROUP BY
    TRUNC(spine.day, 'MONTH')
), agg_fact_payable AS (
  SELECT
    CAST(TRUNC(spine.day, 'MONTH') AS DATE) AS month,
    SUM(fact_payable.amount) AS ap_balance_day_sum
  FROM spine
  INNER JOIN fact_payable
    ON fact_payable.bill_date <= spine.day
    AND COALESCE(fact_payable.paid_date, CAST('9999-12-31' AS DATE)) > spine.day
  GROUP BY
    TRUNC(spine.day, 'MONTH')
), agg_fact_sales AS (
  SELECT
    CAST(TRUNC(fact_sales.order_date, 'MONTH') AS DATE) AS month,
    SUM(fact_sales.cogs) AS cost_of_goods,
    SUM(fact_sales.revenue) AS revenue
  FROM fact_sales
  WHERE
    fact_sales.order_date BETWEEN CAST('2024-12-01' AS DATE) AND CAST('2025-03-31' AS DATE)
  GROUP BY
    TRUNC(fact_sales.order_date, 'MONTH')
), agg_fact_inventory_daily AS (
  SELECT
    CAST(TRUNC(fact_inventory_daily.snapshot_date, 'MONTH') AS DATE) AS month,
    SUM(fact_inventory_daily.inventory_value) AS inventory_value_sum
  FROM fact_inventory_daily
  WHERE
    fact_inventory_daily.snapshot_date BETWEEN CAST('2024-12-01' AS DATE) AND CAST('2025-03-31' AS DATE)
  GROUP BY
    TRUNC(fact_inventory_daily.snapshot_date, 'MONTH')
), agg_fact_receivable AS (
  SELECT
    CAST(TRUNC(spine.day, 'MONTH') AS DATE) AS month,
    SUM(fact_receivable.amount) AS ar_balance_day_sum
  FROM spine
  INNER JOIN fact_receivable
    ON fact_receivable.invoice_date <= spine.day
    AND COALESCE(fact_receivable.paid_date, CAST('9999-12-31' AS DATE)) > spine.day
  GROUP BY
    TRUNC(spine.day, 'MONTH')
), grid AS (
  SELECT
    month
  FROM agg_fact_payable
  UNION
  SELECT
    month
  FROM agg_fact_sales
  UNION
  SELECT
    month
  FROM agg_fact_inventory_daily
  UNION
  SELECT
    month
  FROM agg_fact_receivable
), series AS (
  SELECT
    grid.month,
    (
      CAST((
        CAST(COALESCE(agg_fact_inventory_daily.inventory_value_sum, 0) AS DOUBLE) / NULLIF(calendar.days, 0)
      ) AS DOUBLE) / NULLIF(
        (
          CAST((
            COALESCE(agg_fact_sales.cost_of_goods, 0)
          ) AS DOUBLE) / NULLIF(calendar.days, 0)
        ),
        0
      )
    ) + (
      CAST((
        CAST(COALESCE(agg_fact_receivable.ar_balance_day_sum, 0) AS DOUBLE) / NULLIF(calendar.days, 0)
      ) AS DOUBLE) / NULLIF(
        (
          CAST((
            COALESCE(agg_fact_sales.revenue, 0)
          ) AS DOUBLE) / NULLIF(calendar.days, 0)
        ),
        0
      )
    ) - (
      CAST((
        CAST(COALESCE(agg_fact_payable.ap_balance_day_sum, 0) AS DOUBLE) / NULLIF(calendar.days, 0)
      ) AS DOUBLE) / NULLIF(
        (
          CAST((
            COALESCE(agg_fact_sales.cost_of_goods, 0)
          ) AS DOUBLE) / NULLIF(calendar.days, 0)
        ),
        0
      )
    ) AS ccc
  FROM grid
  LEFT JOIN agg_fact_payable
    ON grid.month IS NOT DISTINCT FROM agg_fact_payable.month
  LEFT JOIN agg_fact_sales
    ON grid.month IS NOT DISTINCT FROM agg_fact_sales.month
  LEFT JOIN agg_fact_inventory_daily
    ON grid.month IS NOT DISTINCT FROM agg_fact_inventory_daily.month
  LEFT JOIN agg_fact_receivable
    ON grid.month IS NOT DISTINCT FROM agg_fact_receivable.month
  LEFT JOIN calendar
    ON calendar.month = grid.month
), this_period AS (
  SELECT
    *
  FROM series
  WHERE
    series.month >= CAST('2025-01-01' AS DATE)
), previous_period AS (
  SELECT
    CAST(series.month + INTERVAL '1' MONTH AS DATE) AS month,
    series.ccc
  FROM series
  WHERE
    series.month <= CAST('2025-02-01' AS DATE)
)
SELECT
  this_period.month,
  this_period.ccc,
  previous_period.ccc AS ccc_previous,
  CAST(this_period.ccc AS DOUBLE) / NULLIF(previous_period.ccc, 0) - 1 AS ccc_growth
FROM this_period
LEFT JOIN previous_period
  ON this_period.month IS NOT DISTINCT FROM previous_period.month
ORDER BY
  month NULLS LAST
