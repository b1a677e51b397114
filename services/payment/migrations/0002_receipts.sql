-- Where the notification service sends the receipt on success.
ALTER TABLE payments ADD COLUMN receipt_phone TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN receipt_email TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN receipt_language TEXT NOT NULL DEFAULT 'ar';
