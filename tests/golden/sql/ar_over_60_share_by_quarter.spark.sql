WITH spine AS (
  SELECT
    CAST(gs.d AS DATE) AS day
  FROM (
    SELECT
      EXPLODE(
        SEQUENCE(CAST('2025-01-01' AS DATE), CAST('2025-12-31' AS DATE), INTERVAL '1' DAY)
      ) AS d
  ) AS gs
), calendar AS (
  SELECT
    CAST(TRUNC(spine.day, 'QUARTER') AS DATE) AS quarter,
    COUNT(*) AS days,
    MAX(spine.day) AS as_of
  FROM spine
  GROUP BY
    TRUNC(spine.day, 'QUARTER')
), agg_fact_receivable AS (
  SELECT
    calendar.quarter AS quarter,
    SUM(
      CASE
        WHEN fact_receivable.invoice_date < calendar.as_of - INTERVAL '60' DAY
        THEN fact_receivable.amount
        ELSE 0
      END
    ) AS ar_over_60_balance_end,
    SUM(fact_receivable.amount) AS ar_balance_end
  FROM calendar
  INNER JOIN fact_receivable
    ON fact_receivable.invoice_date <= calendar.as_of
    AND COALESCE(fact_receivable.paid_date, CAST('9999-12-31' AS DATE)) > calendar.as_of
  GROUP BY
    calendar.quarter
), agg_fact_receivable_2 AS (
  SELECT
    CAST(TRUNC(spine.day, 'QUARTER') AS DATE) AS quarter,
    SUM(fact_receivable.amount) AS ar_balance_day_sum
  FROM spine
  INNER JOIN fact_receivable
    ON fact_receivable.invoice_date <= spine.day
    AND COALESCE(fact_receivable.paid_date, CAST('9999-12-31' AS DATE)) > spine.day
  GROUP BY
    TRUNC(spine.day, 'QUARTER')
), agg_fact_sales AS (
  SELECT
    CAST(TRUNC(fact_sales.order_date, 'QUARTER') AS DATE) AS quarter,
    SUM(fact_sales.revenue) AS revenue
  FROM fact_sales
  WHERE
    fact_sales.order_date BETWEEN CAST('2025-01-01' AS DATE) AND CAST('2025-12-31' AS DATE)
  GROUP BY
    TRUNC(fact_sales.order_date, 'QUARTER')
), grid AS (
  SELECT
    quarter
  FROM agg_fact_receivable
  UNION
  SELECT
    quarter
  FROM agg_fact_receivable_2
  UNION
  SELECT
    quarter
  FROM agg_fact_sales
)
SELECT
  grid.quarter,
  CAST(COALESCE(agg_fact_receivable.ar_over_60_balance_end, 0) AS DOUBLE) / NULLIF(COALESCE(agg_fact_receivable.ar_balance_end, 0), 0) AS ar_over_60_share,
  CAST((
    CAST(COALESCE(agg_fact_receivable_2.ar_balance_day_sum, 0) AS DOUBLE) / NULLIF(calendar.days, 0)
  ) AS DOUBLE) / NULLIF(
    (
      CAST((
        COALESCE(agg_fact_sales.revenue, 0)
      ) AS DOUBLE) / NULLIF(calendar.days, 0)
    ),
    0
  ) AS dso
FROM grid
LEFT JOIN agg_fact_receivable
  ON grid.quarter IS NOT DISTINCT FROM agg_fact_receivable.quarter
LEFT JOIN agg_fact_receivable_2
  ON grid.quarter IS NOT DISTINCT FROM agg_fact_receivable_2.quarter
LEFT JOIN agg_fact_sales
  ON grid.quarter IS NOT DISTINCT FROM agg_fact_sales.quarter
LEFT JOIN calendar
  ON calendar.quarter = grid.quarter
ORDER BY
  quarter NULLS LAST
