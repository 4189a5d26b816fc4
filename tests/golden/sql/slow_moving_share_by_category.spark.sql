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
    COUNT(*) AS days,
    MAX(spine.day) AS as_of
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
    ON stocked.as_of IS NOT DISTINCT FROM sold.as_of
    AND stocked.sku_id IS NOT DISTINCT FROM sold.sku_id
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
  ON grid.category IS NOT DISTINCT FROM agg_fact_inventory_daily.category
LEFT JOIN agg_fact_inventory_daily_2
  ON grid.category IS NOT DISTINCT FROM agg_fact_inventory_daily_2.category
ORDER BY
  category NULLS LAST
