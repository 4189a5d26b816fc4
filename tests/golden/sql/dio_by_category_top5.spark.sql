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
), agg_fact_inventory_daily AS (
  SELECT
    dim_sku.category AS category,
    SUM(fact_inventory_daily.inventory_value_sum) AS inventory_value_sum
  FROM (
    SELECT
      fact_inventory_daily.sku_id AS sku_id,
      SUM(fact_inventory_daily.inventory_value) AS inventory_value_sum
    FROM fact_inventory_daily
    WHERE
      fact_inventory_daily.snapshot_date BETWEEN CAST('2025-01-01' AS DATE) AND CAST('2025-03-31' AS DATE)
    GROUP BY
      fact_inventory_daily.sku_id
  ) AS fact_inventory_daily
  LEFT JOIN dim_sku
    ON dim_sku.sku_id = fact_inventory_daily.sku_id
  GROUP BY
    dim_sku.category
), agg_fact_sales AS (
  SELECT
    dim_sku.category AS category,
    SUM(fact_sales.cost_of_goods) AS cost_of_goods
  FROM (
    SELECT
      fact_sales.sku_id AS sku_id,
      SUM(fact_sales.cogs) AS cost_of_goods
    FROM fact_sales
    WHERE
      fact_sales.order_date BETWEEN CAST('2025-01-01' AS DATE) AND CAST('2025-03-31' AS DATE)
    GROUP BY
      fact_sales.sku_id
  ) AS fact_sales
  LEFT JOIN dim_sku
    ON dim_sku.sku_id = fact_sales.sku_id
  GROUP BY
    dim_sku.category
), grid AS (
  SELECT
    category
  FROM agg_fact_inventory_daily
  UNION
  SELECT
    category
  FROM agg_fact_sales
)
SELECT
  grid.category,
  CAST((
    CAST(COALESCE(agg_fact_inventory_daily.inventory_value_sum, 0) AS DOUBLE) / NULLIF(calendar.days, 0)
  ) AS DOUBLE) / NULLIF(
    (
      CAST((
        COALESCE(agg_fact_sales.cost_of_goods, 0)
      ) AS DOUBLE) / NULLIF(calendar.days, 0)
    ),
    0
  ) AS dio
FROM grid
LEFT JOIN agg_fact_inventory_daily
  ON grid.category IS NOT DISTINCT FROM agg_fact_inventory_daily.category
LEFT JOIN agg_fact_sales
  ON grid.category IS NOT DISTINCT FROM agg_fact_sales.category
CROSS JOIN calendar
ORDER BY
  dio DESC,
  category NULLS LAST
LIMIT 5
