WITH spine AS (
  SELECT
    CAST(gs.d AS DATE) AS day
  FROM (
    SELECT
      EXPLODE(
        SEQUENCE(CAST('2025-01-01' AS DATE), CAST('2025-03-31' AS DATE), INTERVAL '1' DAY)
      ) AS d
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
  customer NULLS LAST
