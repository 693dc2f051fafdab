SELECT status, revenue FROM orders GROUP BY status;
