DROP TABLE market.api_calls;
