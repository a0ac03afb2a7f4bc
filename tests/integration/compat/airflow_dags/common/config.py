# From the orchestration guide (dags/common/config.py), unedited.
# dags/common/config.py
# Centralized configuration management for pipelines.
# Supports environment-specific settings and secure secrets.

import os
from typing import Any, Dict, Optional
from airflow.models import Variable

class PipelineConfig:
    """
    Centralized configuration for data pipelines.
    Supports environment variables, Airflow Variables, and defaults.
    """

    # Environment detection
    ENVIRONMENT = os.getenv('AIRFLOW_ENV', 'development')

    # Database configurations
    SOURCE_DB_CONN_ID = 'sales_db_' + ENVIRONMENT
    WAREHOUSE_DB_CONN_ID = 'warehouse_db_' + ENVIRONMENT

    # Processing settings
    BATCH_SIZE = int(os.getenv('BATCH_SIZE', '10000'))
    PARALLEL_TASKS = int(os.getenv('PARALLEL_TASKS', '4'))

    # Feature flags
    ENABLE_DATA_QUALITY_CHECKS = os.getenv('ENABLE_DQ_CHECKS', 'true').lower() == 'true'
    ENABLE_NOTIFICATIONS = os.getenv('ENABLE_NOTIFICATIONS', 'true').lower() == 'true'

    @classmethod
    def get_variable(cls, key: str, default: Any = None) -> Any:
        """
        Get configuration from Airflow Variables with fallback.
        Caches values to reduce database queries.
        """
        try:
            return Variable.get(key, default_var=default)
        except Exception:
            return default

    @classmethod
    def get_json_variable(cls, key: str, default: Optional[Dict] = None) -> Dict:
        """Get JSON configuration from Airflow Variables."""
        try:
            return Variable.get(key, deserialize_json=True)
        except Exception:
            return default or {}

    @classmethod
    def get_connection_config(cls, conn_type: str) -> Dict[str, str]:
        """Get connection configuration based on environment."""
        configs = {
            'development': {
                'source': 'sales_db_dev',
                'warehouse': 'warehouse_db_dev',
            },
            'staging': {
                'source': 'sales_db_staging',
                'warehouse': 'warehouse_db_staging',
            },
            'production': {
                'source': 'sales_db_prod',
                'warehouse': 'warehouse_db_prod',
            },
        }
        return configs.get(cls.ENVIRONMENT, configs['development']).get(conn_type)
