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
    CAST(gs.d AS DATE) AS `day`
  FROM (
    SELECT
      DATE_ADD(CAST('2025-01-01' AS DATE), INTERVAL (p0.n + p1.n * 10 + p2.n * 100) DAY) AS d
    FROM digits AS p0
    CROSS JOIN digits AS p1
    CROSS JOIN digits AS p2
    WHERE
      p0.n + p1.n * 10 + p2.n * 100 <= 364
  ) AS gs
), calendar AS (
  SELECT
    COUNT(*) AS days,
    MAX(spine.`day`) AS as_of
  FROM spine
), agg_fact_inventory_daily AS (
  SELECT
    stocked.category,
    SUM(CASE WHEN sold.sku_id IS NULL THEN 1 ELSE 0 END) AS unsold_stocked_skus
  FROM (
    SELECT
      dim_sku.category AS category,
      fact_inventory_daily.sku_id AS sku_id,
      calendar.as_of AS as_of
    FROM calendar
    INNER JOIN fact_inventory_daily
      ON fact_inventory_daily.snapshot_date = calendar.as_of
    LEFT JOIN dim_sku
      ON dim_sku.sku_id = fact_inventory_daily.sku_id
    WHERE
      fact_inventory_daily.on_hand_qty > 0
    GROUP BY
      dim_sku.category,
      fact_inventory_daily.sku_id,
      calendar.as_of
  ) AS stocked
  LEFT JOIN (
    SELECT
      calendar.as_of AS as_of,
      fact_sales.sku_id AS sku_id
    FROM calendar
    INNER JOIN fact_sales
      ON fact_sales.order_date > calendar.as_of - INTERVAL '90' DAY
      AND fact_sales.order_date <= calendar.as_of
    GROUP BY
      calendar.as_of,
      fact_sales.sku_id
    HAVING
      SUM(fact_sales.quantity) > 0
  ) AS sold
    ON stocked.as_of <=> sold.as_of AND stocked.sku_id <=> sold.sku_id
  GROUP BY
    stocked.category
), agg_fact_inventory_daily_2 AS (
  SELECT
    dim_sku.category AS category,
    COUNT(
      DISTINCT CASE WHEN fact_inventory_daily.on_hand_qty > 0 THEN fact_inventory_daily.sku_id END
    ) AS stocked_skus
  FROM fact_inventory_daily
  LEFT JOIN dim_sku
    ON dim_sku.sku_id = fact_inventory_daily.sku_id
  WHERE
    fact_inventory_daily.snapshot_date = CAST('2025-12-31' AS DATE)
  GROUP BY
    dim_sku.category
), grid AS (
  SELECT
    category
  FROM agg_fact_inventory_daily
  UNION
  SELECT
    category
  FROM agg_fact_inventory_daily_2
)
SELECT
  grid.category,
  CAST(COALESCE(agg_fact_inventory_daily.unsold_stocked_skus, 0) AS DOUBLE) / NULLIF(COALESCE(agg_fact_inventory_daily_2.stocked_skus, 0), 0) AS slow_moving_share
FROM grid
LEFT JOIN agg_fact_inventory_daily
  ON grid.category <=> agg_fact_inventory_daily.category
LEFT JOIN agg_fact_inventory_daily_2
  ON grid.category <=> agg_fact_inventory_daily_2.category
ORDER BY
  CASE WHEN grid.category IS NULL THEN 1 ELSE 0 END, grid.category
