WITH agg_fact_sales AS (
  SELECT
    fact_sales.promo_id AS promotion,
    SUM(fact_sales.revenue - fact_sales.cogs) AS promo_line_gross_profit
  FROM fact_sales
  LEFT JOIN dim_promotion
    ON dim_promotion.promo_id = fact_sales.promo_id
  WHERE
    dim_promotion.start_date BETWEEN CAST('2025-01-01' AS DATE) AND CAST('2025-12-31' AS DATE)
  GROUP BY
    fact_sales.promo_id
), agg_dim_promotion AS (
  SELECT
    dim_promotion.promo_id AS promotion,
    SUM(dim_promotion.cost) AS promo_cost
  FROM dim_promotion
  WHERE
    dim_promotion.start_date BETWEEN CAST('2025-01-01' AS DATE) AND CAST('2025-12-31' AS DATE)
  GROUP BY
    dim_promotion.promo_id
), grid AS (
  SELECT
    promotion
  FROM agg_fact_sales
  UNION
  SELECT
    promotion
  FROM agg_dim_promotion
)
SELECT
  grid.promotion,
  CAST(COALESCE(agg_fact_sales.promo_line_gross_profit, 0) AS DOUBLE) / NULLIF(COALESCE(agg_dim_promotion.promo_cost, 0), 0) AS promo_roi
FROM grid
LEFT JOIN agg_fact_sales
  ON grid.promotion <=> agg_fact_sales.promotion
LEFT JOIN agg_dim_promotion
  ON grid.promotion <=> agg_dim_promotion.promotion
ORDER BY
  CASE WHEN grid.promotion IS NULL THEN 1 ELSE 0 END, grid.promotion
