"""The crawler service: crawls essay-like web pages with Scrapy into a corpus artifact."""
