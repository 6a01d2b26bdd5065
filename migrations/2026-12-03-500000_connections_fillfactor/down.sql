ALTER TABLE connections RESET (fillfactor);
