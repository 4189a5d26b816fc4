WITH agg_fact_inventory_daily AS (
  SELECT
    fact_inventory_daily.time_bucket AS month,
    dim_sku.category AS category,
    SUM(fact_inventory_daily.on_hand_qty_end) AS on_hand_qty_end,
    SUM(fact_inventory_daily.inventory_value_at_end) AS inventory_value_at_end,
    SUM(fact_inventory_daily.in_transit_qty_end) AS in_transit_qty_end
  FROM (
    SELECT
      CAST(dateTrunc('MONTH', fact_inventory_daily.snapshot_date) AS Nullable(DATE)) AS time_bucket,
      fact_inventory_daily.sku_id AS sku_id,
      SUM(fact_inventory_daily.on_hand_qty) AS on_hand_qty_end,
      SUM(fact_inventory_daily.inventory_value) AS inventory_value_at_end,
      SUM(fact_inventory_daily.in_transit_qty) AS in_transit_qty_end
    FROM fact_inventory_daily
    WHERE
      fact_inventory_daily.snapshot_date IN (
        CAST('2025-01-31' AS Nullable(DATE)),
        CAST('2025-02-28' AS Nullable(DATE)),
        CAST('2025-03-31' AS Nullable(DATE))
      )
    GROUP BY
      dateTrunc('MONTH', fact_inventory_daily.snapshot_date),
      fact_inventory_daily.sku_id
  ) AS fact_inventory_daily
  LEFT JOIN dim_sku
    ON dim_sku.sku_id = fact_inventory_daily.sku_id
  GROUP BY
    fact_inventory_daily.time_bucket,
    dim_sku.category
)
SELECT
  agg_fact_inventory_daily.month AS month,
  agg_fact_inventory_daily.category AS category,
  agg_fact_inventory_daily.on_hand_qty_end AS on_hand_units,
  agg_fact_inventory_daily.inventory_value_at_end AS inventory_value_end,
  agg_fact_inventory_daily.in_transit_qty_end AS in_transit_units
FROM agg_fact_inventory_daily
ORDER BY
  month,
  category
