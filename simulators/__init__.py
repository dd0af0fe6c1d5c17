"""Stand-ins for the external government systems jiuzhu talks to.

One HTTP app serves the payment system (支付系统), the SMS platform (短信平台) and the
economic-status verification platform (家庭经济状况核对平台) with the contracts of the real
ones, persisting to SQLite. Run with ``python -m simulators``.
"""
