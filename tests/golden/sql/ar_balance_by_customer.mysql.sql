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
    CAST(gs.d AS DATE) AS day
  FROM (
    SELECT
      DATE_ADD(CAST('2025-01-01' AS DATE), INTERVAL (p0.n + p1.n * 10) DAY) AS d
    FROM digits AS p0
    CROSS JOIN digits AS p1
    WHERE
      p0.n + p1.n * 10 <= 89
  ) AS gs
), calendar AS (
  SELECT
    COUNT(*) AS days,
    MAX(spine.day) AS as_of
  FROM spine
), agg_fact_receivable AS (
  SELECT
    fact_receivable.customer_id AS customer,
    SUM(fact_receivable.amount) AS ar_balance_end
  FROM calendar
  INNER JOIN fact_receivable
    ON fact_receivable.invoice_date <= calendar.as_of
    AND COALESCE(fact_receivable.paid_date, CAST('9999-12-31' AS DATE)) > calendar.as_of
  GROUP BY
    fact_receivable.customer_id
)
SELECT
  agg_fact_receivable.customer,
  agg_fact_receivable.ar_balance_end AS ar_balance
FROM agg_fact_receivable
ORDER BY
  CASE WHEN agg_fact_receivable.customer IS NULL THEN 1 ELSE 0 END, agg_fact_receivable.customer
