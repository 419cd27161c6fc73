"""Scrapy settings of the crawler's project; a crawl plan named by SUPIL_CRAWL_PLAN fills them in."""

from services.crawler.scrapy_project.plan import settings_from_environment

globals().update(settings_from_environment())
