WITH agg_fact_inventory_daily AS (
  SELECT
    fact_inventory_daily.time_bucket AS `month`,
    dim_sku.category AS category,
    SUM(fact_inventory_daily.on_hand_qty_end) AS on_hand_qty_end,
    SUM(fact_inventory_daily.inventory_value_at_end) AS inventory_value_at_end,
    SUM(fact_inventory_daily.in_transit_qty_end) AS in_transit_qty_end
  FROM (
    SELECT
      CAST(DATE_TRUNC(fact_inventory_daily.snapshot_date, 'MONTH') AS DATE) AS time_bucket,
      fact_inventory_daily.sku_id AS sku_id,
      SUM(fact_inventory_daily.on_hand_qty) AS on_hand_qty_end,
      SUM(fact_inventory_daily.inventory_value) AS inventory_value_at_end,
      SUM(fact_inventory_daily.in_transit_qty) AS in_transit_qty_end
    FROM fact_inventory_daily
    WHERE
      fact_inventory_daily.snapshot_date IN (
        CAST('2025-01-31' AS DATE),
        CAST('2025-02-28' AS DATE),
        CAST('2025-03-31' AS DATE)
      )
    GROUP BY
      DATE_TRUNC(fact_inventory_daily.snapshot_date, 'MONTH'),
      fact_inventory_daily.sku_id
  ) AS fact_inventory_daily
  LEFT JOIN dim_sku
    ON dim_sku.sku_id = fact_inventory_daily.sku_id
  GROUP BY
    fact_inventory_daily.time_bucket,
    dim_sku.category
)
SELECT
  agg_fact_inventory_daily.`month`,
  agg_fact_inventory_daily.category,
  agg_fact_inventory_daily.on_hand_qty_end AS on_hand_units,
  agg_fact_inventory_daily.inventory_value_at_end AS inventory_value_end,
  agg_fact_inventory_daily.in_transit_qty_end AS in_transit_units
FROM agg_fact_inventory_daily
ORDER BY
  CASE WHEN agg_fact_inventory_daily.`month` IS NULL THEN 1 ELSE 0 END, agg_fact_inventory_daily.`month`,
  CASE WHEN agg_fact_inventory_daily.category IS NULL THEN 1 ELSE 0 END, agg_fact_inventory_daily.category
