"""The crawler's Scrapy project: one spider over site profiles, its middlewares and pipelines."""
