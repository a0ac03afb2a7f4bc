"""What users write in DAG files: DAGs, operators, task groups, TaskFlow and templating."""
