WITH digits AS (
  SELECT
    0 AS n
  UNION ALL
  SELECT
    1
  UNION ALL
  SELECT
    2
  UNION ALL
  SELECT
    3
  UNION ALL
  SELECT
    4
  UNION ALL
  SELECT
    5
  UNION ALL
  SELECT
    6
  UNION ALL
  SELECT
    7
  UNION ALL
  SELECT
    8
  UNION ALL
  SELECT
    9
), spine AS (
  SELECT
    CAST(gs.d AS Nullable(DATE)) AS day
  FROM (
    SELECT
      DATE_ADD(DAY, p0.n + p1.n * 10 + p2.n * 100, CAST('2024-12-01' AS Nullable(DATE))) AS d
    FROM digits AS p0
    CROSS JOIN digits AS p1
    CROSS JOIN digits AS p2
    WHERE
      p0.n + p1.n * 10 + p2.n * 100 <= 120
  ) AS gs
), calendar AS (
  SELECT
    CAST(dateTrunc('MONTH', spine.day) AS Nullable(DATE)) AS month,
    COUNT(*) AS days,
    MAX(spine.day) AS as_of
  FROM spine
  GROUP BY
    dateTrunc('MONTH', spine.day)
), agg_fact_payable AS (
  SELECT
    CAST(dateTrunc('MONTH', spine.day) AS Nullable(DATE)) AS month,
    SUM(fact_payable.amount) AS ap_balance_day_sum
  FROM spine
  INNER JOIN fact_payable
    ON fact_payable.bill_date <= spine.day
    AND COALESCE(fact_payable.paid_date, CAST('9999-12-31' AS Nullable(DATE))) > spine.day
  GROUP BY
    dateTrunc('MONTH', spine.day)
), agg_fact_sales AS (
  SELECT
    CAST(dateTrunc('MONTH', fact_sales.order_date) AS Nullable(DATE)) AS month,
    SUM(fact_sales.cogs) AS cost_of_goods,
    SUM(fact_sales.revenue) AS revenue
  FROM fact_sales
  WHERE
    fact_sales.order_date BETWEEN CAST('2024-12-01' AS Nullable(DATE)) AND CAST('2025-03-31' AS Nullable(DATE))
  GROUP BY
    dateTrunc('MONTH', fact_sales.order_date)
), agg_fact_inventory_daily AS (
  SELECT
    CAST(dateTrunc('MONTH', fact_inventory_daily.snapshot_date) AS Nullable(DATE)) AS month,
    SUM(fact_inventory_daily.inventory_value) AS inventory_value_sum
  FROM fact_inventory_daily
  WHERE
    fact_inventory_daily.snapshot_date BETWEEN CAST('2024-12-01' AS Nullable(DATE)) AND CAST('2025-03-31' AS Nullable(DATE))
  GROUP BY
    dateTrunc('MONTH', fact_inventory_daily.snapshot_date)
), agg_fact_receivable AS (
  SELECT
    CAST(dateTrunc('MONTH', spine.day) AS Nullable(DATE)) AS month,
    SUM(fact_receivable.amount) AS ar_balance_day_sum
  FROM spine
  INNER JOIN fact_receivable
    ON fact_receivable.invoice_date <= spine.day
    AND COALESCE(fact_receivable.paid_date, CAST('9999-12-31' AS Nullable(DATE))) > spine.day
  GROUP BY
    dateTrunc('MONTH', spine.day)
), grid AS (
  SELECT
    month AS month
  FROM agg_fact_payable
  UNION DISTINCT
  SELECT
    month AS month
  FROM agg_fact_sales
  UNION DISTINCT
  SELECT
    month AS month
  FROM agg_fact_inventory_daily
  UNION DISTINCT
  SELECT
    month AS month
  FROM agg_fact_receivable
), series AS (
  SELECT
    grid.month AS month,
    (
      CAST((
        CAST(COALESCE(agg_fact_inventory_daily.inventory_value_sum, 0) AS Nullable(Float64)) / nullIf(calendar.days, 0)
      ) AS Nullable(Float64)) / nullIf(
        (
          CAST((
            COALESCE(agg_fact_sales.cost_of_goods, 0)
          ) AS Nullable(Float64)) / nullIf(calendar.days, 0)
        ),
        0
      )
    ) + (
      CAST((
        CAST(COALESCE(agg_fact_receivable.ar_balance_day_sum, 0) AS Nullable(Float64)) / nullIf(calendar.days, 0)
      ) AS Nullable(Float64)) / nullIf(
        (
          CAST((
            COALESCE(agg_fact_sales.revenue, 0)
          ) AS Nullable(Float64)) / nullIf(calendar.days, 0)
        ),
        0
      )
    ) - (
      CAST((
        CAST(COALESCE(agg_fact_payable.ap_balance_day_sum, 0) AS Nullable(Float64)) / nullIf(calendar.days, 0)
      ) AS Nullable(Float64)) / nullIf(
        (
          CAST((
            COALESCE(agg_fact_sales.cost_of_goods, 0)
          ) AS Nullable(Float64)) / nullIf(calendar.days, 0)
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
    series.month >= CAST('2025-01-01' AS Nullable(DATE))
), previous_period AS (
  SELECT
    CAST(series.month + INTERVAL '1' MONTH AS Nullable(DATE)) AS month,
    series.ccc AS ccc
  FROM series
  WHERE
    series.month <= CAST('2025-02-01' AS Nullable(DATE))
)
SELECT
  this_period.month AS month,
  this_period.ccc AS ccc,
  previous_period.ccc AS ccc_previous,
  CAST(this_period.ccc AS Nullable(Float64)) / nullIf(previous_period.ccc, 0) - 1 AS ccc_growth
FROM this_period
LEFT JOIN previous_period
  ON this_period.month IS NOT DISTINCT FROM previous_period.month
ORDER BY
  month
