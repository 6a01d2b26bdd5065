-- Room on each page for the new version of a row whose unindexed columns change (the last test's
-- result, the streak), so that the update stays on its page (a HOT update) instead of adding an
-- entry to each of the table's indexes. Every Test Connection and every scheduled check makes
-- such an update. Pages written from now on keep the room; existing ones gain it as rows move.
ALTER TABLE connections SET (fillfactor = 80);
