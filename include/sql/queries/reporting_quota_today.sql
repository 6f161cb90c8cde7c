SELECT quota_day, requests_used, requests_per_day, requests_left FROM reporting.api_quota_today
