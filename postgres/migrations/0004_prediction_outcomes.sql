-- A prediction's actual CTR is its clip's observed CTR, read through a
-- view instead of rewriting every stored prediction of a clip on each
-- outcome.
ALTER TABLE predictions DROP COLUMN actual_ctr;
CREATE VIEW predictions_with_outcomes AS
    SELECT p.*, CASE WHEN c.impressions > 0 THEN c.clicks::double precision / c.impressions END AS actual_ctr
    FROM predictions p LEFT JOIN clips c ON c.id = p.clip_id;
